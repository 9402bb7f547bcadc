"""The soak harness (issue 24): authapi as deployed, under load, broken on a schedule."""
