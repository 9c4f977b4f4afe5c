"""Leaderboards: suites, running them (``pgvg bench``), the results store (SQLite) and the board (``pgvg
leaderboard``, its HTML report), and the real-footage reconstruction protocol."""
