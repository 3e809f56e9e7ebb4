"""Streamed answers folded back into the body the provider would have sent without streaming.

A stream is framed (server-sent events, or AWS's binary event stream), each frame is one event of
the provider's format, and a `Fold` of that format rebuilds the whole answer from them. The
folded body goes through the same generated `parse_body` as a non-streaming answer, so a streamed
response is the same `APIResponse`, field by field, and the cache, journal and retries never see
the difference.
"""
