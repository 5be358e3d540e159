/** `matterstack check demos/battery_screening_py`: the Python campaign's tasks report what the TypeScript one's do. */
export { default } from '../battery_screening/campaign.check.ts';
