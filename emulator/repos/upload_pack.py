"""git-upload-pack: the ref advertisement and the pack sent to a fetching client.

Interface used by every door (smart HTTP now, SSH later):

- `advertise(refs, head)` yields the pkt-line frames of the v0 ref advertisement (without the
  smart-HTTP `# service=` preamble, which is the HTTP door's business).
- `UploadPack(store, refs, limits).serve(read, write, stateless=True)` reads one request (wants,
  haves, done) from `read` and writes the negotiation answer and the pack (side-band-64k) to
  `write`. Blocking: doors run it in a worker thread.
"""
