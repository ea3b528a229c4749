"""The web page to search and browse posters, and the JSON API behind it."""
