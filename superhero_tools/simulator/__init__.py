"""The superhero combat simulator: roster, pure game engine, WebSocket server, bots, bulk mode.

Nothing here imports Dagster; the simulator only produces the log stream the platform loads.
"""
