"""Spinboard's CDK app: settings, stacks and the checks run at synth."""
