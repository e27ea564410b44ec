"""`python -m keboola_vectorizer.cli`."""

from keboola_vectorizer.cli.main import main

main()
