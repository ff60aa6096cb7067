"""The online side of the desk: moves bundles to and from the server. It holds the desk's
transport token only, never a key that opens or signs anything."""
