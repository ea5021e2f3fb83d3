"""Energy Flow Polynomials: canonical names (`names`, light: the rules import it), the engine
and its grid settings (`engine`), its exact fast paths (`grid`) and TensorFlow backend (`tf`),
duplicates and single-EFP AUCs (`duplicates`). The EFP tables on disk are
``hepml.io.efp_store``."""
