"""One APIRouter per route group of the seed's gateway."""
