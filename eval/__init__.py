"""instructerc.eval"""
