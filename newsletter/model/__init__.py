"""Value types the engine, the store, feedback and the web share: the bottom floor."""
