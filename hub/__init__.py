"""instructerc.hub"""
