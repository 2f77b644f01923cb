"""How long a test waits for something that is going to happen.

These are ceilings, never delays: every wait ends as soon as its event happens (a reply is
drawn, a server has started, a response arrives), so a generous ceiling costs nothing on a
fast machine and keeps a busy one (two cores shared with a compiler, a browser and other test
runs) from failing tests whose code is right. Only a broken test or a broken product ever
waits the whole ceiling out.
"""

from __future__ import annotations

# Anything the extractive backend, the embedder or the page does: answers, summaries, uploads,
# a live server's start and stop, HTTP requests to it.
PATIENCE_S = 120.0
PATIENCE_MS = int(PATIENCE_S * 1000)

# Anything the real local model (Gemma 3 270M under llama.cpp on the CPU) does: its server
# starting, a prompt of several passages, a streamed reply.
LLM_PATIENCE_S = 600.0
LLM_PATIENCE_MS = int(LLM_PATIENCE_S * 1000)
