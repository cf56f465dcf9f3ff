"""instructerc.train"""
