"""One function per rule, named after it: reads the rule's declared inputs (through the I/O
layer, ``leptonid.io`` and ``leptonid.efp_store``), calls the pure domain code, writes the
rule's outputs. The only layer that knows file paths (docs/architecture.md)."""
