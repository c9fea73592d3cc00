"""Pretraining on Lightning (``sargeo pretrain``): SARMAE and SAR-W-MixMAE modules, data."""
