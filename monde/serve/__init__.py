"""`monde serve`: a planning server a robot can call (docs/serve.md).

Sessions hold their MPC state between `act` calls; concurrent `act` calls for one model are
planned in one batched solver call; every route but health needs a bearer token. Importing this
package imports nothing heavy: the server (FastAPI, uvicorn, torch) loads in `monde.serve.server`.
"""
