"""`python -m keboola_vectorizer.cli`."""

from keboola_vectorizer.cli.entry import main

main()
