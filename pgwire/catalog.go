package pgwire

func lookupCatalog(n string) *synthetic { return nil }
