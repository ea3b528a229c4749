"""The Qdrant index of posters: an Edge (embedded) and a server backend behind one interface."""
