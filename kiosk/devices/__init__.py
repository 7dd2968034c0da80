"""Devices of the kiosk: the ESC/POS receipt printer and the QR scanner.

No Kivy here: the app wires these to its screens; the staff panel and the
heartbeat read ``Printer.state()`` and ``SerialScanner.state()``.
"""
