"""UI-independent glue for the browser app (never imports gradio): inputs -> specs, views'
computations, figures and export files. ``app.py`` calls these, each handler a few lines.
"""
