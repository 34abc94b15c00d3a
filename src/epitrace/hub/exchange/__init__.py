"""The inter-agency exchange: data requests, police approval, agents' answers, analysis jobs."""
