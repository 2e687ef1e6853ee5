"""Everything between LangServe and our chains: the one publishing factory and the guards it applies."""
