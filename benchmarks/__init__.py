"""Benchmarks of the speech loop on the dev models. Run: .venv/bin/python -m benchmarks.speech_loop"""
