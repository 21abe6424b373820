// Autocomplete: starts the HTTP service, loads Catalog's products in the background, stops on SIGTERM.
import { CatalogClient, CatalogRefresher, catalogEndpoints } from './catalog.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createAutocompleteServer } from './server.js';
import { DEFAULT_PRODUCT_SCORE, Suggestions } from './suggestions.js';
import { startTelemetry } from './telemetry.js';
import { loadTerms } from './terms.js';

const env = process.env;
const telemetry = startTelemetry(env);
const logger = createLogger({ otlp: telemetry.otlp });
const port = Number(env.PORT ?? 5090);
const host = env.HOST ?? '127.0.0.1';

const suggestions = new Suggestions(loadTerms(), { productScore: Number(env.AUTOCOMPLETE_PRODUCT_SCORE ?? DEFAULT_PRODUCT_SCORE) });
const metrics = createMetrics({ defaultMetrics: true });
metrics.indexChanged(suggestions.index, false);
const { server, shutdown } = createAutocompleteServer({ suggestions, metrics, logger });

const endpoints = catalogEndpoints(env);
let refresher = null;
if (endpoints.length > 0) {
  refresher = new CatalogRefresher({
    client: new CatalogClient({ endpoints }),
    suggestions, logger, metrics,
    refreshMs: Number(env.CATALOG_REFRESH_SECONDS ?? 300) * 1000,
    backoffBaseMs: Number(env.CATALOG_BACKOFF_BASE_MS ?? 500),
    backoffMaxMs: Number(env.CATALOG_BACKOFF_MAX_MS ?? 30_000),
  }).start();
} else {
  logger.warn('no Catalog address (services__catalog__http__0); answering from the bundled terms only');
}

process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception'));
process.on('unhandledRejection', (error) => logger.error({ err: error }, 'unhandled rejection'));

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    refresher?.stop();
    await shutdown();
    logger.info('stopped');
    await telemetry.shutdown().catch(() => {});
    process.exit(0);
  });
}

server.listen(port, host, () => {
  const address = server.address();
  logger.info({ host: address.address, port: address.port, terms: suggestions.index.termCount, catalog: endpoints }, 'listening');
});
