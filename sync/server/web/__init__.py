"""The admin's web pages (HTML): web/base.py is what they share; one module per page group.

signin (sign in and out, language), dashboard (figures, officer page,
exports), alerts, kiosks (health, enrol, revoke), roster (lists, file
import, photos), office (letters, the Word report's issuer). Each has its
own ``router``; sync/server/app.py includes them. A new page group is a new
module here with a ``router``, included there.
"""
