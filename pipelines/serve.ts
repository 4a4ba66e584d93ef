/**
 * The service recipe: listen first (health answers while the models load),
 * then the startup recipe, then serve its engine. `bark-pipeline serve`
 * builds the same recipe around any profile (`--profile mock|demo|cpu|…`)
 * and keeps it running; `bark-pipeline plan serve` shows its stages.
 */
import startup from "./startup.ts"
import { recipe } from "../src/server/stages.ts"

export default recipe(startup)
