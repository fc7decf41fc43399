"""Books, their authors, publishers and reviews: the classic prefetch example."""
