"""Energy Flow Polynomials: canonical names (`names`, light: the rules import it), graphs
(`graphs`), the ``efp`` config block (`settings`), the engine (`plan`, `kernels`, `k4`, `engine`,
`tf`), the table in blocks (`table`, `progress`), duplicates and single-EFP AUCs (`duplicates`).
The EFP tables on disk are ``hepml.io.efp_store``."""
