/**
 * The shared test NATS (NATS_URL, 127.0.0.1:4222) runs without authentication, so whatever a test
 * starts from here connects without NATS credentials (jest's global setup says the same for test
 * files that do not import this library). Stacks that test the secured NATS clear it for their processes.
 */
process.env.MAAS_NATS_INSECURE ??= '1';

export {};
