"""Media and files: decoding and writing video and images, contact sheets and animated grids, atomic writes,
content hashes, the cache folder and the files that ship in pgvg."""
