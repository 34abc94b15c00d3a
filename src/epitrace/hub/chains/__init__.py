"""Links between cases in the hub: proposals from the stored analyses, investigators'
decisions on them, links added by hand, chains and their pages (docs/links.md)."""
