"""IAM authorization for the sandbox: AWS's policy evaluation over the sandbox's requests.

`evaluation` and `conditions` are the pure decision core (policy documents in, a decision
out); the other modules of this package gather what a request needs (its principal, its
resources, the service reference) and hook the decision into moto.
"""
