"""Media tests need no Django: real nginx-rtmp, FFmpeg and our relays on loopback only."""
