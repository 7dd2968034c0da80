"""hailong: the satisfaction-survey kiosk of Vietnam's one-stop desks."""
from setuptools import find_packages, setup

BASE = [
    "click>=8.1",
    "sqlite-utils>=3.37",
    "requests>=2.31",
    "tenacity>=8.2",
    "tqdm>=4.66",
    "cryptography>=42",   # Ed25519: evidence packs signed by the server, checked offline by verify-pack
]
KIOSK = [
    "kivy[base]==2.3.1",
    "qrcode>=7.4",
    "pillow>=10",
    "pyserial>=3.5",
    "python-escpos>=3.1",
    "babel>=2.14",
    "tomlkit>=0.12",      # `hailong kiosk provision` edits config.toml keeping the installer's comments
]
SERVER = [
    "fastapi>=0.110",
    "uvicorn[standard]>=0.29",
    "sqlalchemy>=2.0",
    "alembic>=1.13",
    "openpyxl>=3.1",
    "python-docx>=1.1",
    "argon2-cffi>=23.1",
    "jinja2>=3.1",
    "python-multipart>=0.0.9",
    "itsdangerous>=2.1",
    "matplotlib>=3.8",
    "fastapi-offline>=1.7",   # Swagger UI and ReDoc files, served by the server: /docs works offline
    "babel>=2.14",
    "holidays>=0.60",     # Vietnamese public holidays (lunar Tết, Giỗ Tổ): cases' due dates in working days
    "aiosmtpd>=1.4",      # `make demo`'s local mail catcher (alert e-mails read without a real server)
    "psycopg[binary]>=3.1",   # PostgreSQL (a province): `hailong server --db postgresql+psycopg://…`
]
TEST = [
    "pytest>=8",
    "hypothesis>=6.100",
    "httpx>=0.27",
    "zxing-cpp>=2.2",
    "playwright>=1.45",
    "schemathesis>=3.30",
]

setup(
    name="hailong",
    version="0.6.0",
    description="Satisfaction-survey kiosk for Vietnamese one-stop desks (Bộ phận Một cửa)",
    python_requires=">=3.11",
    packages=find_packages(include=["kiosk*", "sync*", "hailong*", "assets"]),
    package_data={"kiosk": ["ui/*.kv", "ui/screens/*.kv"],
                  "sync.server.web": ["templates/*.html", "static/*"],
                  "sync.server.core": ["migrations/script.py.mako"],
                  # everything assets/__init__.py points at; the .mo catalogues when compiled before the
                  # build (deploy/install.sh compiles them in the venv after it)
                  "assets": ["fonts/*", "letters/*", "locale/*/LC_MESSAGES/*", "surveys/*", "demo/*",
                             "demo/*/*"]},
    install_requires=BASE,
    extras_require={"kiosk": KIOSK, "server": SERVER, "test": TEST},
    entry_points={"console_scripts": ["hailong=hailong.cli:main"]},
)
