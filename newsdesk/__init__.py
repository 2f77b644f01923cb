"""newsdesk: cited question answering and summaries over a collection of news articles."""

__version__ = "0.1.0"
