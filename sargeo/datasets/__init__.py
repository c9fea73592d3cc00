"""Georeferenced SAR data: the scene simulator (:mod:`.simulate`); Sentinel-1 datasets and
vector labels follow."""
