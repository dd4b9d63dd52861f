"""The device's hardware behind narrow interfaces: a button, a light, a microphone and a speaker.

Only this package imports gpiozero, sounddevice or PyAudio; the rest of the companion sees the protocols
in `hardware.base`.
"""
