"""Keras 3 models: one builder for every feature set (`networks`: CNN towers, DNN), and the
particle-flow models PFN/EFN registered with it (`particles`)."""
