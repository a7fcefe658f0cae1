"""The bundled graph library: JSON graphs (always the last graph folder searched) and their scripts."""
