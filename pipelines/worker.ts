/**
 * The worker recipe: listen (health and metrics while the models load), the
 * startup recipe, then `worker`, which takes synthesis jobs from the queue
 * (BARK_REDIS_URL) with the engine the startup built. `bark-pipeline worker`
 * builds the same recipe around any profile (`--profile mock|demo|cpu|…`);
 * a custom recipe can add `worker` from `bark-pipeline/server` itself.
 */
import startup from "./startup.ts"
import { workerRecipe } from "../src/server/stages.ts"

export default workerRecipe(startup)
