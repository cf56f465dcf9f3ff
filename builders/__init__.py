"""instructerc.builders"""
