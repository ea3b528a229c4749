"""The application: the ``poster-search`` command and the wiring of the libraries.

The libraries (encoder_service, ingest, poster_index, search_service, web_ui) and the shared
core (the other postersearch modules) expose no command line and never import this
package; here they are chosen, built, run and stopped. See docs/architecture.md.
"""
