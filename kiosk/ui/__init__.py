"""The kiosk's Kivy UI: app, screens (one .py + .kv pair each), shared widgets."""
