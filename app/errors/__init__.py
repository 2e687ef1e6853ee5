"""Errors over HTTP: one JSON shape (:mod:`.api`) and how backend failures map onto it (:mod:`.backends`)."""
