"""The encoder service: text and image bytes in, L2-normalised vectors out.

It owns model loading, device and dtype choice, image decoding and dynamic batching
across concurrent requests, and knows nothing of posters or the index.
"""
