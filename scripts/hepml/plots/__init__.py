"""Figures, one module per stage: data (class-average images, feature distributions), eval (ROC
overlays, training histories), efp (EFP multigraphs), guided (AUC per pass, ADO histograms),
muons (radial profile). Figures in, figures out: ``hepml.io.write_figure`` saves them."""
