"""One module per group of commands; cli/app.py registers them."""
