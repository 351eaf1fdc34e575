"""Media tests need no Django: real nginx-rtmp, FFmpeg and the PyAV relay on loopback only."""
