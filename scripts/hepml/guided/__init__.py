"""The black-box guided search (docs/guided.md): pass names and scan settings (`names`, light:
the rules import it), decision ordering (`ado`), one pass's selection (`search`), the scan
table (`tables`). The rules' files are ``hepml.steps.guided``."""
